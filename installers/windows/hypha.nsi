; Hypha setup for Windows (NSIS). Built by build.sh; expects in the staging directory:
; hyphad.exe, hypha.exe, wintun.dll, wintun-LICENSE.txt, README.md.
Unicode true
!ifndef VERSION
  !define VERSION "0.1.0"
!endif
!ifndef STAGE
  !define STAGE "stage"
!endif
Name "Hypha ${VERSION}"
OutFile "HyphaSetup-${VERSION}.exe"
InstallDir "$PROGRAMFILES64\Hypha"
RequestExecutionLevel admin
SetCompressor /SOLID lzma

Page directory
Page instfiles
UninstPage uninstConfirm
UninstPage instfiles

Section "Hypha"
  SetOutPath "$INSTDIR"
  ; An upgrade replaces a running service: stop and remove it first (the key stays).
  IfFileExists "$INSTDIR\hyphad.exe" 0 +2
    ExecWait '"$INSTDIR\hyphad.exe" service uninstall'
  File "${STAGE}\hyphad.exe"
  File "${STAGE}\hypha.exe"
  ; WireGuard's signed wintun.dll, loaded by hyphad at run time, with its licence.
  File "${STAGE}\wintun.dll"
  File "${STAGE}\wintun-LICENSE.txt"
  File "${STAGE}\README.md"
  WriteUninstaller "$INSTDIR\uninstall.exe"
  ExecWait '"$INSTDIR\hyphad.exe" service install' $0
  StrCmp $0 0 +2
    MessageBox MB_OK|MB_ICONEXCLAMATION "Installing the Hypha service failed (code $0)."
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Hypha" "DisplayName" "Hypha"
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Hypha" "DisplayVersion" "${VERSION}"
  WriteRegStr HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Hypha" "UninstallString" '"$INSTDIR\uninstall.exe"'
SectionEnd

Section "Uninstall"
  ExecWait '"$INSTDIR\hyphad.exe" service uninstall'
  Delete "$INSTDIR\hyphad.exe"
  Delete "$INSTDIR\hypha.exe"
  Delete "$INSTDIR\wintun.dll"
  Delete "$INSTDIR\wintun-LICENSE.txt"
  Delete "$INSTDIR\README.md"
  Delete "$INSTDIR\uninstall.exe"
  RMDir "$INSTDIR"
  DeleteRegKey HKLM "Software\Microsoft\Windows\CurrentVersion\Uninstall\Hypha"
  ; The identity key in %ProgramData%\Hypha is kept: it is the node's identity.
SectionEnd
