import xml.etree.ElementTree as ET

from kfbundle.graph import to_svg, write_graph
from kfbundle.render import render


def test_svg_shows_every_application_and_highlights_ours(sources, tmp_path):
    bundle = render(sources, "1.11", overlays=["cos", "mlflow"]).bundle
    svg = to_svg(bundle, sources, "test")
    root = ET.fromstring(svg)  # noqa: S314 - our own output
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    for app in [*bundle["applications"], *bundle["saas"]]:
        assert app in texts
    assert (
        svg.count('stroke="#e95420"') == 9
    )  # 7 charms, mysql thrice (katib-db, kfp-db, mlflow-db)
    assert svg.count("<path") == len(bundle["relations"])


def test_png_without_cairosvg_says_what_is_needed(sources, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "cairosvg", None)
    problem = write_graph("<svg/>", tmp_path / "x.png")
    assert problem is not None
    assert "cairosvg" in problem
