"""The README documents every ledger column exactly as the code writes it."""

from __future__ import annotations

from pathlib import Path

from costreport.sources.ledger.docs import schema_markdown


def test_the_readme_schema_section_is_the_generated_one() -> None:
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    generated = schema_markdown()
    assert "| `lifecycle` | string |" in generated and "**lifecycle records**" in generated
    assert generated in readme, (
        "README's ledger schema is stale: python -m costreport.sources.ledger.docs"
    )
