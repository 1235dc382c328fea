"The benchmark scripts; `from benchmarks import paper_table` (from the repository root) gives the paper table's helpers."
