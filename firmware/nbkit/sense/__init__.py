# Meters and sensors: meter-bus codecs (cjt188, dlt645 over bus), pulse counting (pulse) and
# smoke-alarm logic (smoke). Each module raises events (nbkit.sense.events.Event) for the app.
