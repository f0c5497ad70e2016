"""The item contract and one module per stage: decode, extract, urls (identity), archive."""
