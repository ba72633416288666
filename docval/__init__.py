"""DocVal: an on-premise Document Validation Server for ICAO 9303 eMRTDs."""

__version__ = "0.1.0"
