"""Fuzzing harness over the readers: any bytes, under any supported extension, either read or
raise InputError naming the file — never another exception.

CI runs it for a bounded number of examples; raise FUZZ_EXAMPLES for a longer local campaign:
    FUZZ_EXAMPLES=20000 python -m pytest tests/test_fuzz_readers.py
"""
import os
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.errors import InputError
from pipeline.reading import read_report, read_table

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
SEEDS = [
    "一、存在问题\n一是学习不够。\n".encode("utf-8"),
    "text,label\n甲,a\n乙,b\n".encode("gbk"),
    b'{"text": "\xe7\x94\xb2", "label": "a"}\n',
    b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
    b"PAR1\x00\x00",
]
fuzz_bytes = st.one_of(
    st.binary(max_size=2048),
    st.sampled_from(SEEDS).flatmap(lambda seed: st.binary(max_size=64).map(lambda junk: seed[: len(seed) // 2] + junk + seed)),
    st.text(max_size=500).flatmap(lambda t: st.sampled_from(["utf-8", "utf-16", "gb18030"]).map(lambda e: t.encode(e, "replace"))),
)


def _check(suffix, data, reader):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"fuzz{suffix}"
        path.write_bytes(data)
        try:
            reader(path)
        except InputError as exc:
            assert "fuzz" in str(exc)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([".txt", ".md", ".docx"]), fuzz_bytes)
def test_report_readers_fail_only_with_input_errors(suffix, data):
    _check(suffix, data, read_report)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([".csv", ".tsv", ".jsonl", ".parquet", ".xlsx"]), fuzz_bytes)
def test_table_readers_fail_only_with_input_errors(suffix, data):
    _check(suffix, data, read_table)
