"""One module per fuzz target; each defines ``TARGET`` (``fuzz.target.FuzzTarget``)."""
