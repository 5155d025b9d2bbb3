"""Make docs/img/report.png, the README's picture of a report, from a compare run directory.

    econdl compare configs/gdp/ --seeds 5
    python docs/img/make_screenshot.py logs/gdp/compare/version_0

Opens the report in headless Chromium (the same check as tests/test_report.py: every image
decoded, nothing fetched) and keeps the top of the page.
"""

import sys
from pathlib import Path

from PIL import Image

from econdl.report import write_report
from econdl.report.browser import check_page

run_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "logs/gdp/compare/version_0")
out = Path(__file__).with_name("report.png")
page = check_page(write_report(run_dir), out, width=1100)
assert page.decoded == page.images and not page.requests, page
with Image.open(out) as image:
    top = image.crop((0, 0, image.width, min(image.height, 1500)))
    top.convert("P", palette=Image.Palette.ADAPTIVE, colors=128).save(out, optimize=True)
print(f"{out}: {page.images} images, all decoded, no network request")
