# nbkit firmware entry point: the board runs this after boot.
import nbkit

print("nbkit firmware", nbkit.VERSION)
