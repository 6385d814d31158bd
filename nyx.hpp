#pragma once
// nyx: the public API in one include. Start reading here; each line names the header that holds
// a part, with its documentation.
#include <nyx/core/error.hpp>      // nyx::Error, thrown with the op, the shapes and a hint
#include <nyx/core/dtype.hpp>      // f32, f64, i64, bf16
#include <nyx/core/shape.hpp>      // Shape, broadcasting rules
#include <nyx/core/tensor.hpp>     // Tensor, views, element access, printing, factories
#include <nyx/core/random.hpp>     // Generator, rand, randn, randint (seeded, counter-based)
#include <nyx/core/parallel.hpp>   // set_num_threads, NYX_NUM_THREADS
#include <nyx/core/allocator.hpp>  // memory::stats of the caching allocator
#include <nyx/core/safetensors.hpp>  // io::save_safetensors, load_safetensors (validated, atomic)
#include <nyx/core/file.hpp>     // io::read_file, write_file_atomically
#include <nyx/autograd/grad_mode.hpp>  // NoGradGuard
#include <nyx/autograd/autocast.hpp>   // AutocastGuard: bf16 products, f32 everywhere else
#include <nyx/autograd/gradcheck.hpp>  // gradcheck, gradgradcheck
#include <nyx/autograd/grad.hpp>       // autograd::grad: gradients as values, and of gradients (create_graph)
#include <nyx/autograd/record.hpp>     // autograd::record, to define an op of your own
#include <nyx/dist/distributed.hpp>    // dist::Session, the collectives over MPI, max_over_ranks
#include <nyx/ops/ops.hpp>             // ops::matmul, ops::sum, ..., and the arithmetic operators
#include <nyx/nn/module.hpp>           // nn::Module: parameters, children, state_dict
#include <nyx/nn/layers.hpp>           // nn::Linear, Embedding, LayerNorm, Dropout, GELU, ReLU, Sequential, ModuleList
#include <nyx/nn/init.hpp>             // nn::init::normal_, xavier_uniform_, kaiming_uniform_, ...
#include <nyx/nn/optim.hpp>            // optim::SGD, Adam, AdamW, LRScheduler, clip_grad_norm
#include <nyx/nn/attention.hpp>        // nn::SoftmaxAttention, NystromAttention, MultiHeadAttention
#include <nyx/nn/linformer.hpp>        // nn::LinformerAttention (Wang et al. 2020)
#include <nyx/nn/performer.hpp>        // nn::PerformerAttention (FAVOR+, Choromanski et al. 2021)
#include <nyx/nn/transformer.hpp>      // nn::TransformerBlock (pre-LN)
#include <nyx/nn/checkpoint.hpp>       // nn::save_weights, save_training_state (safetensors)
#include <nyx/nn/data_parallel.hpp>    // dist::DataParallel: data-parallel training over MPI
#include <nyx/models/encoder.hpp>      // models::EncoderClassifier, EncoderConfig
#include <nyx/models/masked_lm.hpp>    // models::MaskedLM: BERT's MLM and sentence-order pretraining
#include <nyx/models/config_json.hpp>  // models::to_json, classifier_config_from_json (a model's config.json section)
#include <nyx/models/run.hpp>          // models::load_run: a nyx-train run's model, in one's own C++
#include <nyx/data/dataset.hpp>        // data::Dataset, TensorDataset, SequenceDataset, Loader, collates
#include <nyx/data/listops.hpp>        // data::generate_listops, the LRA ListOps task and its TSV files
#include <nyx/data/images.hpp>         // data::read_idx, load_fashion_mnist (pixels or patches)
#include <nyx/data/pathfinder.hpp>     // data::generate_pathfinder, the LRA Pathfinder task
#include <nyx/data/text.hpp>           // data::read_text_tsv (byte-level text classification)
#include <nyx/data/documents.hpp>      // data::generate_document_text, _retrieval: LRA-style tasks from linux-doc
#include <nyx/data/corpus.hpp>         // data::read_corpus: prose from Debian packages, for pretraining
#include <nyx/data/tokenizer.hpp>      // data::Tokenizer: SentencePiece, trained on the corpus
#include <nyx/data/pretraining.hpp>    // data::SentenceOrderDataset, masking: BERT/ALBERT's examples
