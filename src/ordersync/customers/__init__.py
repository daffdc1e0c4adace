"""Customer analytics kept current: identity, profiles, RFM, CLV and journey stages, and their change
events, for exactly the customers each build touched."""
