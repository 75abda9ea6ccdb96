def corrected_spec(spec, api_paths):
    return spec
