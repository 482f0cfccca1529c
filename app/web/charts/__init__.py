"""Charts: Plotly figure builders (`figures`) and the run page's chart series (`run_series`)."""
