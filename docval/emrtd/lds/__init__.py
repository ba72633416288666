"""LDS files: parsing of EF.SOD and the data groups (ICAO 9303-10)."""
