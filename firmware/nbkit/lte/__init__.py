# LTE / NB-IoT features, one module per AT feature: pure parse and encode functions, each
# parser with its response format in a comment above it. No I/O here.
