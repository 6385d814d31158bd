#pragma once
// The pretraining corpus (docs/pretraining.md): English prose from Debian packages, stripped of its
// markup, split by document, exact repeats dropped.
//
//     data::DocumentSplits corpus = data::read_corpus();   // the three sources below
//     for (const data::Document& d : corpus.train) ...       // d.bytes: one sentence a line
//
// The sources, one group of documents each (a document is a file):
//   - linux-doc: the Linux kernel's Documentation/ (Debian's linux-doc-6.1), every *.rst and *.txt,
//     gzip'd or not, outside translations/ (which is not English); reStructuredText.
//   - python-doc: the Python 3.11 documentation's reStructuredText sources (python3.11-doc):
//     every *.rst.txt under html/_sources.
//   - fortunes: the fortune cookie files (fortunes): every file of /usr/share/games/fortunes
//     without a '.' in its name (not the strfile indexes *.dat, nor the *.u8 links); entries are
//     separated by lines holding only "%".
// A document's text (Document::bytes) is its prose, one sentence a line and an empty line between
// paragraphs: reStructuredText through strip_rst, fortunes through fortune_text, then
// split_sentences. Invalid UTF-8 is dropped byte by byte. Documents are split by split_documents
// (documents.hpp), by a hash of (split_seed, "source/path"), so no document is in two splits, and
// within groups, so that each split holds documents of every large folder (fine-tuning classifies
// by folder): each top-level folder of a source with 6 documents or more is a group, and the rest
// of the source (its own files, smaller folders) one more, joined to its largest folder when it
// has fewer than 3. Each group gives validation and test at least one document each. An exact
// repeat of an earlier document's text is dropped. Symbolic links are not followed.
#include <string>
#include <string_view>
#include <vector>

#include "documents.hpp"

namespace nyx::data {

struct CorpusSource {
    enum class Format { rst,
                        fortunes };
    std::string name;  // "linux-doc": also the first part of its documents' paths
    std::string root;  // the folder read
    std::string package;  // the Debian package that installs it (named in errors), or "" for a folder of one's own
    Format format = Format::rst;
};

// linux-doc, python-doc and fortunes, as above.
std::vector<CorpusSource> default_corpus_sources();

struct CorpusOptions {
    std::vector<CorpusSource> sources = default_corpus_sources();
    DocumentSplitOptions split{.val_share = 0.1, .test_share = 0.1, .split_seed = 0};
};

// The corpus's documents, labelled by their source's index and with paths "source/relative path".
// Throws nyx::Error when a source's folder is missing (naming its package: apt-get install ...) or
// holds fewer than 3 documents.
DocumentSplits read_corpus(const CorpusOptions& options = {});

// The prose of a reStructuredText document, as paragraphs separated by empty lines (each
// paragraph's lines joined by spaces):
//   - dropped: section adornments and transitions (lines of one repeated punctuation character),
//     table borders, comments, targets and footnotes, literal blocks (the indented block after a
//     paragraph ending in "::", which becomes ":"), and the directives whose bodies are not prose
//     (code, tables, tables of contents, images, kernel-doc, math, ...) with their bodies;
//   - of every other directive (admonitions, a function's description), its line and its options
//     are dropped and its body kept (an admonition's text on its line too);
//   - unwrapped: inline literals ``x``, roles :role:`x` (x of "title <target>" is the title, and of
//     "~a.b" is b), references `x`_ and `x <url>`_, emphasis *x* and **x**, substitutions |x|,
//     backslash escapes, bullets and the colons of field names; footnote references [1]_ dropped;
//   - table cells' bars become spaces.
std::string strip_rst(std::string_view text);

// The entries of a fortune file (separated by lines of "%") as paragraphs, each entry's lines
// joined by spaces.
std::string fortune_text(std::string_view text);

// A paragraph's sentences: it is cut after '.', '!' or '?' (and any closing quotes or brackets)
// where a space and then an upper-case letter, a digit or an opening quote follow, except after a
// few abbreviations (e.g., i.e., etc., Mr., Dr., vs., Fig., No.). A sentence longer than 2,000
// bytes is cut at its last space before that (or at 2,000 bytes) into shorter pieces.
std::vector<std::string> split_sentences(std::string_view paragraph);

// `text` with every byte that is not part of a valid UTF-8 sequence dropped.
std::string valid_utf8(std::string_view text);

}  // namespace nyx::data
