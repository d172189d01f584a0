"""Records managers' retention policy: parsed strictly from YAML, compiled once per plan, and
applied by a pure `decide`."""
