"""Datasets: synthetic, audio folders, LibriSpeech, images, pairs; splits and downloads."""
