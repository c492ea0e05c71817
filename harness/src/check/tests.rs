//! Unit tests of the expectation kinds and the judge on observations recorded by hand.
