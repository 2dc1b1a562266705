"""The course's own experiment: `convscope serve --data fashion-mnist --model lenet-d2l`, the book's
LeNet training live on the real Fashion-MNIST, its sigmoid layers shown on a sweater and a coat."""
from __future__ import annotations

from pathlib import Path

from support import unavailable

DEBIAN = Path("/usr/share/datasets/fashion-mnist")  # Debian's package dataset-fashion-mnist
MAPS = """(type) => [...document.querySelectorAll(`#network article.layer[data-type=${type}]`)].map((row) => {
  const canvas = row.querySelector("figure[data-kind=activation] canvas.blob-canvas");
  if (!canvas || !canvas.width) return null;
  const d = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  const grays = new Set();
  for (let i = 0; i < d.length; i += 4) grays.add(d[i] * 65536 + d[i + 1] * 256 + d[i + 2]);
  return {distinct: grays.size, sum: d.reduce((a, b) => a + b, 0)};
})"""


def test_the_books_lenet_shows_its_sigmoid_layers_on_a_sweater_and_a_coat(start_server, new_page):
    if not DEBIAN.is_dir():
        unavailable(f"{DEBIAN} is missing", "apt-get install dataset-fashion-mnist")
    with start_server("fashion-mnist", "--model", "lenet-d2l") as server:
        run = server.run()
        assert run["model"] == "lenet-d2l" and run["dataset"]["classes"][2:5] == ["Pullover", "Dress", "Coat"]
        assert run["dataset"]["train_size"] == 60000 and run["config"]["lr"] == 0.9
        context, page = new_page(server)
        try:
            seen = {}
            for name, index in (("Pullover", 1), ("Coat", 6)):  # the book's exercise: sweaters and coats
                status, _ = server.api("/api/run/probe", "POST", {"index": index})
                assert status == 200 and server.run()["probe"]["label"] == name
                page.wait_for(f"store.probe && store.probe.index === {index}")
                page.page.wait_for_function(f"() => document.querySelector('#probe-img')?.src.endsWith('/{index}.png')")
                page.page.wait_for_selector("#network article.layer[data-type=sigmoid] figure[data-kind=activation] "
                                            "canvas.blob-canvas", state="visible")
                page.page.wait_for_timeout(1500)  # a frame of this probe image drawn
                maps = page.page.evaluate(MAPS, "sigmoid")
                assert len(maps) == 4 and all(m and m["distinct"] > 4 for m in maps), maps
                seen[name] = maps
            assert seen["Pullover"] != seen["Coat"]  # different images, different maps
        finally:
            context.close()
