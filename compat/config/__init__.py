"""matrix.yaml to values: the matrix (``matrix``, with ``yamlpos`` for file:line errors), version
policies (``versions``), declared expectations (``expectations``) and the cell and release
values every other layer passes around (``cell``). Pure: no processes, no network."""
