"""Layer tars in and out: compression, safe unpacking with whiteouts, diffs to tars."""
