"""The bulk reader of Prometheus range-query arrays must read exactly the points json.loads reads, or decline."""

import json

import pytest

from pipeline.sources import _range_values as rv
from pipeline.sources import dcgm


def _doc(*series_values: str, metric: str = '{"__name__":"DCGM_FI_DEV_POWER_USAGE","UUID":"GPU-1","Hostname":"n1"}') -> str:
    result = ",".join(f'{{"metric":{metric},"values":{v}}}' for v in series_values)
    return '{"status":"success","data":{"resultType":"matrix","result":[' + result + "]}}"


def test_split_cuts_each_values_array_and_leaves_valid_json():
    text = _doc('[[1,"2"],[3,"4.5"]]', '[[10,"NaN"]]')
    skeleton, arrays = rv.split(text)
    assert arrays == ['[1,"2"],[3,"4.5"]', '[10,"NaN"]']
    doc = json.loads(skeleton)
    assert [rv.placeholder(s["values"]) for s in doc["data"]["result"]] == [0, 1]


def test_points_are_the_texts_as_written():
    ts, values = rv.points(['[1783638000,"494.01"],[1783638010.5,"NaN"],[1.7e9,"+Inf"],[-0,""]'])[0]
    assert ts.to_pylist() == ["1783638000", "1783638010.5", "1.7e9", "-0"]
    assert values.to_pylist() == ["494.01", "NaN", "+Inf", ""]


@pytest.mark.parametrize("array", [
    '[1,"2"], [3,"4"]',          # whitespace between points
    '[1, "2"]',                  # whitespace inside a point
    '[01,"2"]',                  # not a JSON number (leading zero)
    '[+1,"2"]',                  # not a JSON number (plus sign)
    '["1","2"]',                 # timestamp quoted
    '[1,2]',                     # value not quoted
    '[1,"2",3]',                 # three elements
    '[1,"a,b"]',                 # comma inside the text
    '[1,"a]b"]',                 # bracket inside the text
    '[1,"a\\"b"]',               # escaped quote
    '[1,"\\u0041"]',             # escape sequence
    '[,"2"]',                    # no timestamp
])
def test_anything_but_the_compact_form_is_declined(array):
    assert rv.points([array]) == [None]


def test_one_odd_array_does_not_stop_the_others():
    got = rv.points(['[1,"2"]', '[01,"2"]', '[3,"4"]'])
    assert got[1] is None
    assert got[0][1].to_pylist() == ["2"] and got[2][0].to_pylist() == ["3"]


def _raw(tmp_path, text: str, bulk: bool, monkeypatch):
    p = tmp_path / "dcgm.json"
    p.write_text(text)
    if not bulk:
        monkeypatch.setattr(dcgm, "_load_document", lambda text: None)
    frame = dcgm.read_raw(p).frame
    monkeypatch.undo()
    return frame


@pytest.mark.parametrize("values", [
    ['[[1783638000,"494.01"],[1783638010,"NaN"],[1783638020,"500"]]', '[[1783638000,"71.5"]]'],
    ['[[1783638000,"494.01"],[1783638010, "3"]]', '[[1783638000,"x,y"],[1783638010,"2"]]'],   # careful path for some
    ['[[1783638000,"1"],[1783638010,"2",3]]'],                                                 # a point that is not a sample
    ['[[1783638000.25,"1e3"],[1783638001,"-2"]]'],
])
def test_raw_rows_match_the_json_loads_path(tmp_path, monkeypatch, values):
    text = _doc(*values)
    fast, slow = _raw(tmp_path, text, True, monkeypatch), _raw(tmp_path, text, False, monkeypatch)
    assert list(fast.columns) == list(slow.columns)
    for col in fast.columns:
        assert fast[col].astype("string").fillna("<NA>").tolist() == slow[col].astype("string").fillna("<NA>").tolist(), col


def test_values_read_in_bulk_give_the_numbers_written(tmp_path, monkeypatch):
    text = _doc('[[1783638000,"494.01"],[1783638010,"NaN"],[1783638020,"500"]]')
    p = tmp_path / "d.json"
    p.write_text(text)
    parsed = dcgm.to_canonical(dcgm.read_raw(p), source_label="d.json", site_zone="UTC")
    f = parsed.frame
    assert dcgm._load_document(text) is not None                        # read in bulk
    assert f["power_w"].tolist() == [494.01, 500.0]
    assert [str(t) for t in f["ts_utc"]] == ["2026-07-09 23:00:00+00:00", "2026-07-09 23:00:20+00:00"]   # 1783638000 s
    # the NaN point has no finite power at its time: quarantined, not zero
    assert len(parsed.quarantine) == 1


def test_a_document_that_is_not_json_still_names_the_problem(tmp_path):
    p = tmp_path / "d.json"
    p.write_text(_doc('[[1,"2"]]')[:-1])            # the closing brace cut off
    from pipeline.errors import InputError
    with pytest.raises(InputError, match="is not valid JSON"):
        dcgm.read_raw(p)
