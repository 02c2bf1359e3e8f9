"""The REST plumbing every app's API shares: pagination with a bounded count, a size- and depth-limited JSON
parser, strict fields and serializers that refuse unknown fields, query parameters as a form means them."""
