"""The data sources behind the objects, and a dictionary-backed implementation of them.

The object model reaches live data and settings only through one `sources` object with:

* ``read(name) -> value``
* ``write(name, value)``
* ``call(name, argument) -> Data tuple or None``

Values of simple types are plain Python values (int in the internal unit of the quantity, bool,
bytes); structures, arrays and CHOICEs are Data tuples (see `cosem.dtype`). A name the sources
do not know raises KeyError; a value the service refuses raises ValueError (answered
other-reason); a binding may also raise a `cosem.errors.AccessError` to choose the answer.
Anything else is answered temporary-failure.
"""


class DictSources:
    """Sources over dictionaries: `values` (stored settings, readable and writable), `getters`
    name -> f(), `setters` name -> f(value), `actions` name -> f(argument). A name is read from
    `values` or, when it is not there, from `getters` (a name is one or the other); a setter
    takes precedence over a stored value; writing a name without a setter replaces its stored
    value (only names already present: unknown names raise KeyError)."""

    def __init__(self, values=None, getters=None, setters=None, actions=None):
        self.values = {} if values is None else values
        self.getters = {} if getters is None else getters
        self.setters = {} if setters is None else setters
        self.actions = {} if actions is None else actions

    def read(self, name):
        # The small settings dict first: a miss in a large dict of similar names is slow on
        # MicroPython (16-bit string hashes, linear probing through long clusters; 8 us for
        # one miss among the ~660 getters of the MT382 against 0.1 us for a hit).
        values = self.values
        if name in values:
            return values[name]
        return self.getters[name]()

    def write(self, name, value):
        f = self.setters.get(name)
        if f is not None:
            f(value)
        elif name in self.values:
            self.values[name] = value
        else:
            raise KeyError(name)

    def call(self, name, argument):
        return self.actions[name](argument)
