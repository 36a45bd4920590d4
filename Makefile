# Aliases for the two set-up commands; the scripts need only bash and Python 3.11+.
.PHONY: run test bench clean

run:
	scripts/run

test:
	scripts/test $(PYTEST_ARGS)

bench:
	bash -c 'source scripts/_venv.sh && "$$BIN/python" -m bench.turn_latency'

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
