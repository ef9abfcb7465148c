#!/bin/sh
echo "rolled back to $2"
