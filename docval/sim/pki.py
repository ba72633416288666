"""The test PKI of the virtual passport: a CSCA of "Utopia" (UT), its DSCs, EF.SOD signing.

Shipped (not test-only) because integrators run the demo: the demo server
trusts :func:`demo_csca_pem` and the virtual passport's EF.SOD is signed by the
demo DSC, in any process, because the demo keys are fixed constants (in pki_demo).

THE DEMO KEYS ARE PUBLIC TEST MATERIAL.  Never trust the demo CSCA in production.

:func:`generate_pki` makes fresh PKIs for tests (untrusted CSCAs, other
curves, RSA), and the ``sign_*``/``make_*`` helpers produce real CMS
structures (EF.SOD, EF.CardSecurity, master lists) and CRLs.

This module is the public face; the code is in :mod:`docval.sim.pki_certs`
(certificates, CRLs, fresh PKIs), :mod:`docval.sim.pki_cms` (CMS signing) and
:mod:`docval.sim.pki_demo` (the fixed demo PKI and its constants).
"""
from __future__ import annotations

from docval.sim.pki_certs import DEMO_COUNTRY as DEMO_COUNTRY
from docval.sim.pki_certs import DEMO_NOT_AFTER as DEMO_NOT_AFTER
from docval.sim.pki_certs import DEMO_NOT_BEFORE as DEMO_NOT_BEFORE
from docval.sim.pki_certs import PKI as PKI
from docval.sim.pki_certs import Signer as Signer
from docval.sim.pki_certs import generate_pki as generate_pki
from docval.sim.pki_certs import issue_certificate as issue_certificate
from docval.sim.pki_certs import make_crl as make_crl
from docval.sim.pki_certs import make_csca as make_csca
from docval.sim.pki_cms import OID_CSCA_MASTER_LIST as OID_CSCA_MASTER_LIST
from docval.sim.pki_cms import OID_LDS_SECURITY_OBJECT as OID_LDS_SECURITY_OBJECT
from docval.sim.pki_cms import OID_LDS_SECURITY_OBJECT_LEGACY as OID_LDS_SECURITY_OBJECT_LEGACY
from docval.sim.pki_cms import OID_SECURITY_OBJECT as OID_SECURITY_OBJECT
from docval.sim.pki_cms import lds_security_object as lds_security_object
from docval.sim.pki_cms import make_master_list as make_master_list
from docval.sim.pki_cms import sign_card_security as sign_card_security
from docval.sim.pki_cms import sign_signed_data as sign_signed_data
from docval.sim.pki_cms import sign_sod as sign_sod
from docval.sim.pki_cms import sod_for_data_groups as sod_for_data_groups
from docval.sim.pki_demo import demo_csca_der as demo_csca_der
from docval.sim.pki_demo import demo_csca_pem as demo_csca_pem
from docval.sim.pki_demo import demo_pki as demo_pki
