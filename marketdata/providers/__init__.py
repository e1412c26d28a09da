"""Market-data providers: one module per source behind ``base.DataProvider``; ``chain`` falls back
from one to the next and caches answers. Use ``chain.default_chain()`` in services and tasks."""
