"""The zoo-micro command line: it parses and prints; the work lives in host_tools modules."""
