"""What the Python client scripts of this package share:
one "RESULT<TAB>feature<TAB>ok" (or the error) line per feature."""


def result(feature, fn):
    try:
        fn()
        print("RESULT\t%s\tok" % feature, flush=True)
    except Exception as e:  # the table records any failure
        print("RESULT\t%s\t%s: %s" % (feature, type(e).__name__, str(e).replace("\n", " ")), flush=True)


def check(got, want):
    if got != want:
        raise AssertionError("got %r, want %r" % (got, want))
