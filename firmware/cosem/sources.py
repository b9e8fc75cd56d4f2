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
    name -> f(), `setters` name -> f(value), `actions` name -> f(argument). A getter or setter
    takes precedence over a stored value; writing a name without a setter replaces its stored
    value (only names already present: unknown names raise KeyError)."""

    def __init__(self, values=None, getters=None, setters=None, actions=None):
        self.values = {} if values is None else values
        self.getters = {} if getters is None else getters
        self.setters = {} if setters is None else setters
        self.actions = {} if actions is None else actions

    def read(self, name):
        f = self.getters.get(name)
        if f is not None:
            return f()
        return self.values[name]

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
