"""The Python SDK: one public interface (``Client``), whichever registry it talks to."""
