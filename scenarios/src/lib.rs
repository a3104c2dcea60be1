//! The scenario catalog behind `agentsim`.
