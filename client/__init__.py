"""The web client: HTML, CSS and JavaScript modules served as they are, no build step."""

from pathlib import Path

DIR = Path(__file__).parent
