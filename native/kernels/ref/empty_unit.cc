// Intentionally empty: stands in for an empty source group in binding.gyp.
