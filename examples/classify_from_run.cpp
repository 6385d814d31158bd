// Loads a ListOps classifier that nyx-train trained and classifies new expressions given as text, as
// one's own program would use a trained run: models::load_run rebuilds the model from the run's
// config.json and loads its best checkpoint; data::listops_tokenize turns text into token ids.
// Run: ./classify_from_run RUN_DIR [EXPRESSIONS.tsv]
//   RUN_DIR: a run of `nyx-train listops` (a short one: nyx-train listops --steps 200 --run-dir r).
//   Without a file it classifies a few expressions of its own. With one, in the form of the LRA
//   release's files (a header line, then `expression<TAB>value` per line), it classifies every
//   expression and prints the accuracy and the mean loss, as `nyx-train eval` prints them.
// Exits 1 with a message when the run cannot be loaded or an expression does not fit the model.
#include <charconv>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include <nyx/nyx.hpp>

using namespace nyx;

// The model's logits for one expression given as text: [1, classes]. Alone in its batch, it needs
// no padding: the mask is all ones.
Tensor classify(models::EncoderClassifier& model, const std::string& expression) {
    const std::vector<std::uint16_t> tokens = data::listops_tokenize(expression);  // "[MAX 2 9 ]" → 13 4 11 16
    const auto n = static_cast<std::int64_t>(tokens.size());
    const Tensor ids = from_vector(std::vector<std::int64_t>(tokens.begin(), tokens.end()), {1, n});
    return model(ids, ones({1, n}));
}

// A class's name, or its number when the run's data named none.
std::string class_name(const models::LoadedRun& run, std::int64_t k) {
    return run.class_names.empty() ? std::to_string(k) : run.class_names[static_cast<std::size_t>(k)];
}

int run(const std::string& run_dir, const std::string& tsv) {
    const models::LoadedRun run = models::load_run(run_dir);  // best.safetensors, in eval mode
    NYX_CHECK(run.task == "listops", run_dir, " is a ", run.task, " run; this example reads ListOps expressions");
    std::printf("%s: step %ld, %ld parameters, %s attention, up to %ld tokens, %ld classes\n", run.checkpoint.c_str(),
                static_cast<long>(run.step), static_cast<long>(run.model->parameter_count()),
                std::holds_alternative<nn::NystromOptions>(run.config.attention) ? "Nyström" : "softmax", static_cast<long>(run.config.max_len),
                static_cast<long>(run.classes));
    NoGradGuard no_grad;

    if (tsv.empty()) {
        for (const std::string expression : {"[MAX 2 9 [MIN 4 7 ] 0 ]", "[SM 3 4 [MED 1 5 9 ] ]", "[MIN 8 [MAX 1 3 ] 6 ]", "[MED 6 2 7 ]"}) {
            const Tensor probabilities = ops::softmax(classify(*run.model, expression), -1);
            const std::int64_t predicted = ops::argmax(probabilities, 1).item<std::int64_t>();
            const std::int64_t value = data::listops_evaluate(data::listops_tokenize(expression));
            std::printf("%-26s -> %s (p = %.2f); its value is %ld\n", expression.c_str(), class_name(run, predicted).c_str(),
                        probabilities.at<float>({0, predicted}), static_cast<long>(value));
        }
        return 0;
    }

    std::ifstream in(tsv);
    NYX_CHECK(in.good(), "cannot read ", tsv);
    std::string line;
    std::getline(in, line);  // the header: Source<TAB>Target
    double loss = 0;
    std::int64_t count = 0, hits = 0;
    while (std::getline(in, line)) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const std::size_t tab = line.find('\t');
        std::int64_t label = -1;
        const char* value = line.data() + (tab == std::string::npos ? line.size() : tab + 1);
        const auto [end, error] = std::from_chars(value, line.data() + line.size(), label);
        NYX_CHECK(error == std::errc() && end == line.data() + line.size() && label >= 0 && label < run.classes, tsv, ":", count + 2,
                  ": expected expression<TAB>value, with a value below ", run.classes);
        const std::string expression = line.substr(0, tab);
        const Tensor logits = classify(*run.model, expression);
        const std::int64_t predicted = ops::argmax(logits, 1).item<std::int64_t>();
        loss += ops::cross_entropy(logits, from_vector(std::vector<std::int64_t>{label}, {1})).item<float>();
        hits += predicted == label;
        if (count < 5) std::printf("%s -> %s (value %ld)\n", expression.c_str(), class_name(run, predicted).c_str(), static_cast<long>(label));
        ++count;
    }
    NYX_CHECK(count > 0, tsv, " holds no expressions");
    std::printf("%s: accuracy %.2f%% (loss %.4f, %ld examples)\n", tsv.c_str(), 100.0 * static_cast<double>(hits) / static_cast<double>(count),
                loss / static_cast<double>(count), static_cast<long>(count));
    return 0;
}

int main(int argc, char** argv) {
    if (argc < 2 || argc > 3) {
        std::fprintf(stderr, "usage: %s RUN_DIR [EXPRESSIONS.tsv]   (RUN_DIR: a run of nyx-train listops)\n", argv[0]);
        return 2;
    }
    try {
        return run(argv[1], argc == 3 ? argv[2] : "");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    }
}
