from setuptools import find_packages, setup

setup(
    name="docval",
    version="0.1.0",
    description="DocVal: on-premise Document Validation Server for ICAO 9303 eMRTDs",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    # twisted.plugins is a namespace shared with Twisted: ship only our plugin
    # module, never twisted/__init__.py or twisted/plugins/__init__.py.
    packages=find_packages(include=["docval", "docval.*"]) + ["twisted.plugins"],
    package_data={"docval": ["py.typed"]},
    include_package_data=False,
    # Lower bounds are Debian 12's versions: the Debian package depends on them.
    install_requires=[
        "twisted>=22.4",
        "autobahn>=22.7",
        "treq>=22.2",
        "cryptography>=38",
        "pyopenssl>=23.0",
        "asn1crypto>=1.5.1",
        "pillow>=9.4",
        "prometheus-client>=0.16",
        # Twisted checks a Result Server's host name / IP address with it; without
        # it Twisted falls back to a weaker check of the subject CN only.
        "service-identity>=18.1",
    ],
    extras_require={
        "test": [
            "pytest>=7.2",
            "pytest-twisted>=1.13",
            "hypothesis>=6.67",
        ],
    },
    entry_points={
        "console_scripts": [
            "docval-sim = docval.sim.cli:main",
            "docval-verify = docval.verify_cli:main",
            "docval-trust = docval.trust.cli:main",
        ],
    },
)
