"""Small hand-built taxonomies shared by tests whose expected values are computed by hand."""

# Three level-1 genres, 3 levels: the tree the decode, loss and head tests compute against.
# BFS order (= index): A:0 B:1 C:2 A1:3 A2:4 B1:5 B2:6 A1a:7 A1b:8 B2a:9
ABC_PARENTS = {"A": "Music", "B": "Music", "C": "Music", "A1": "A", "A2": "A", "B1": "B",
               "B2": "B", "A1a": "A1", "A1b": "A1", "B2a": "B2"}  # fmt: skip
