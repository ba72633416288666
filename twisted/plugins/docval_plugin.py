# Kept import-light: twistd imports every plugin just to list them.
from twisted.application.service import ServiceMaker

docval = ServiceMaker(
    "DocVal",
    "docval.tap",
    "Document Validation Server: reads and verifies ICAO 9303 eMRTD chips relayed by phones",
    "docval",
)
