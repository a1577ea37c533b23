"""The pipeline and its gates: one module per gate, named by its gate id, with its clause in the
docstring. `pipeline.PIPELINE` is the list, in the policy map's order, and `pipeline.run_gates` runs it
over a draft's frozen content.
"""
