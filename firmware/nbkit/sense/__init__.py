# Meters and sensors: meter-bus link layer (bus) and codecs (cjt188, dlt645; human-readable
# code names in names), pulse counting (pulse) and smoke-alarm logic (smoke). Sensors return
# nbkit.sense.events.Event lists for the app.
