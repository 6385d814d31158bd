// nyx-tests' main: doctest's, after refusing every op the op table does not list (op_table.hpp).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include "op_table.hpp"

int main(int argc, char** argv) {
    nyx::ops::check_recorded_ops();
    return doctest::Context(argc, argv).run();
}
