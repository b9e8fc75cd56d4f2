"""COSEM object model: interface classes, access rights, the object registry and associations."""
