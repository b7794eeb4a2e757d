"""ugc.marts"""
