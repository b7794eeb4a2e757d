"""ugc.etl"""
