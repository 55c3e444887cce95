"""fourin-rules: discipline rules for dispatched cadres, evaluated over event streams."""
