"""Stored results: read when present with the same key, computed (and written only when asked) otherwise."""
import pandas as pd
import pytest

from relustudy.runs import stored


def test_frame_is_written_only_when_asked_and_read_back(tmp_path):
    calls = []

    def compute():
        calls.append(1)
        return pd.DataFrame({"p": [0.25], "hidden": ["4-4"]})

    key = {"init": "he", "n_draws": 10}
    with stored.configure(tmp_path):
        assert stored.frame("toy", key, compute)["p"].iloc[0] == 0.25
        assert stored.computed() == [stored.path_of("toy", key).name] and not list(tmp_path.iterdir())
    with stored.configure(tmp_path, write=True):
        stored.frame("toy", key, compute)
    with stored.configure(tmp_path):
        again = stored.frame("toy", key, compute)
        assert stored.computed() == [] and len(calls) == 2  # read, not recomputed
        pd.testing.assert_frame_equal(again, compute())
        stored.frame("toy", {**key, "n_draws": 11}, compute)  # another key: computed
        assert len(calls) == 4
    with pytest.raises(ValueError, match="allowed: letters"):
        stored.path_of("a/b", key)


def test_pickled_checks_its_key(tmp_path):
    with stored.configure(tmp_path, write=True):
        assert stored.pickled("obj", {"k": 1}, lambda: {"a": [1, 2]}) == {"a": [1, 2]}
    with stored.configure(tmp_path):
        assert stored.pickled("obj", {"k": 1}, lambda: "recomputed") == {"a": [1, 2]}
        assert stored.pickled("obj", {"k": 2}, lambda: "recomputed") == "recomputed"


def test_unreadable_pickle_is_recomputed_not_an_error(tmp_path):
    with stored.configure(tmp_path, write=True):
        stored.pickled("obj", {"k": 1}, lambda: [1])
        path = stored.path_of("obj", {"k": 1}).with_suffix(".pkl")
        path.write_bytes(b"not a pickle")  # e.g. written by another pandas version
        assert stored.pickled("obj", {"k": 1}, lambda: "recomputed") == "recomputed"
        assert stored.pickled("obj", {"k": 1}, lambda: "again") == "recomputed"  # and written back


def test_a_stored_study_finding_is_keyed_by_the_data_and_the_code(tmp_path):
    from relustudy.studies.common import Context
    from relustudy.studies.base import Study

    calls = []

    def finding(selected):
        calls.append(selected)
        return {"n": selected}

    study = Study(name="toy-study", title="Toy", select=lambda ctx: 3, finding=finding,
                  section=lambda *a: "", stored=True)

    def ctx(hashes):
        return Context(runs=pd.DataFrame(), curves=None, figures_dir=tmp_path, report_dir=tmp_path,
                       info={"hashes": hashes})

    store = tmp_path / "store"
    with stored.configure(store, write=True):
        assert ctx({"default/runs.parquet": "aa"}).finding(study) == {"n": 3}
    first = sorted(p.name for p in store.iterdir())
    assert len(first) == 2 and first[0].startswith("finding_toy_study-")
    with stored.configure(store):
        assert ctx({"default/runs.parquet": "aa"}).finding(study) == {"n": 3}
        assert len(calls) == 1  # read back, not computed
        ctx({"default/runs.parquet": "bb"}).finding(study)  # other data: computed afresh
        ctx({}).finding(study)  # no content hashes (a Context built in code): computed, never stored
        assert len(calls) == 3
    with stored.configure(store, write=True):
        ctx({"default/runs.parquet": "bb"}).finding(study)  # the current data's result is written...
        removed = stored.prune("finding_")  # ...and the one for data that is gone removed
    assert sorted(p.name for p in removed) == first
    assert len(list(store.iterdir())) == 2


def test_source_key_follows_the_computation_not_figures_or_sentences(monkeypatch):
    """A stored finding's code key changes with the modules its computation reaches, and not with
    a figure's code or a study's sentences (its section and verdict functions)."""
    from relustudy.studies import million

    study = million.STUDY
    key = stored.source_key(study.select, study.finding)
    assert len(key) == 16 and key == stored.source_key(study.select, study.finding)
    reached = stored._module_closure(frozenset({"relustudy.analysis.cells"}))
    assert "relustudy.stats.proportions" in reached
    assert not any(m.startswith(stored.PRESENTATION) for m in reached)

    real = stored._module_source

    def edited(name, *, module):
        return lambda n: real(n) + (b"# edited\n" if n == module else b"")

    monkeypatch.setattr(stored, "_module_source", edited(None, module="relustudy.figures.scale"))
    assert stored.source_key(study.select, study.finding) == key  # a figure's code: same key
    monkeypatch.setattr(stored, "_module_source", edited(None, module="relustudy.stats.proportions"))
    assert stored.source_key(study.select, study.finding) != key  # the statistics it uses: a new key
    monkeypatch.setattr(stored, "_module_source", real)
    # The sentences live in section/verdict/answer, which the key reads only when asked to.
    assert stored.source_key(study.select, study.finding, study.section) != key


def test_source_key_reads_constants_and_helpers_of_a_study_module():
    import types

    mod = types.ModuleType("relustudy.studies._trial")
    exec("THRESHOLD = 0.5\ndef helper(x):\n    return x > THRESHOLD\ndef finding(x):\n    return helper(x)\n",
         mod.__dict__)
    key = stored.source_key(mod.finding)
    mod.THRESHOLD = 0.6  # a named constant the computation reads
    assert stored.source_key(mod.finding) != key
