"""The local platform: an emulator of the documented AEP endpoints, written from the documents.

It imports nothing from the rest of `reconciler`, so that it and the API client check each other.
"""
