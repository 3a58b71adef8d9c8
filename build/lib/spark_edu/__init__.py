"""spark_edu: readable PyTorch implementations of sparse and modular transformer mechanisms.

Each module holds one mechanism and is taught by one chapter of the book (``book/``).
The core imports with torch alone; plotting and widgets load lazily.
"""

from spark_edu.device import get_device, seed_everything

__all__ = ["get_device", "seed_everything"]
__version__ = "0.1.0"
