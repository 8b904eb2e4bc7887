-- log_values.lua: one log line of several kinds of value, on line 2.
log.info("sizes", "bytes", 1114112, "small", 42, "half", 0.5, "neg", -3, "word", "x")
return {}
