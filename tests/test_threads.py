"""One QuestionAnswerer shared by threads gives every thread the single-threaded answers (the README's
"Embedding in an application" promise; benchmarks/threads.py runs 3,600 calls)."""

import threading

from conftest import fixture_dir

from electra_qa import QuestionAnswerer, load_squad


def test_threads_share_one_answerer():
    folder = fixture_dir("ngc_tiny")
    qa = QuestionAnswerer.from_checkpoint(folder).warm_up()
    pairs = [(e.question, e.context) for e in load_squad(folder / "squad_dev.json").examples]
    expected = [qa(q, c) for q, c in pairs]
    results = []

    def worker(k):
        for i in range(25):
            j = (k + i) % len(pairs)
            a = qa(*pairs[j])
            results.append((a, expected[j]))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 100
    for got, want in results:  # same span; scores within 1e-6 (one compiled graph, so in practice identical)
        assert (got.text, got.start, got.end) == (want.text, want.start, want.end)
        assert abs(got.score - want.score) <= 1e-6
